#!/usr/bin/env python3
"""The attractor-recovery file exchange from Python without numpy (docs/recovery.md, section 3).

A deliberately crude "method" to show the files: its latents are the first k observed
neurons smoothed in time, it reports one stable fixed point at their mean (Jacobian -I, a
continuous-time flow), and it answers learndyn's queries with x(t) = m + (x0 - m) exp(-t).

    learndyn recovery data configs/recovery_duffing.toml --out out/duffing
    python3 docs/examples/recovery_exchange.py out/duffing out/crude        # latents, fixed points
    learndyn recovery queries out/duffing out/crude                         # initial states
    python3 docs/examples/recovery_exchange.py out/duffing out/crude        # + trajectories
    learndyn recovery score out/duffing out/crude

With numpy, `np.load` / `np.save` replace read_npy / write_npy.
"""
import json
import math
import os
import struct
import sys


def read_npy(path):
    """(shape, flat list in C order) of a little-endian float64 .npy file (C or Fortran order:
    learndyn writes matrices column-major)."""
    with open(path, "rb") as f:
        if f.read(6) != b"\x93NUMPY":
            raise ValueError(f"{path}: not a .npy file")
        major = f.read(2)[0]
        n = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = f.read(n).decode("latin1")
        if "'<f8'" not in header:
            raise ValueError(f"{path}: expected float64")
        shape = tuple(int(s) for s in header.split("(")[1].split(")")[0].split(",") if s.strip())
        count = 1
        for s in shape:
            count *= s
        flat = list(struct.unpack(f"<{count}d", f.read(8 * count)))
        if "True" in header and len(shape) == 2:
            rows, cols = shape
            flat = [flat[j * rows + i] for i in range(rows) for j in range(cols)]
        elif "True" in header and len(shape) > 2:
            raise ValueError(f"{path}: Fortran order is only handled for matrices")
        return shape, flat


def write_npy(path, shape, flat):
    """Write `flat` (C order) as a float64 .npy of `shape`."""
    dims = ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "")
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%s), }" % dims
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1"))
        f.write(struct.pack(f"<{len(flat)}d", *flat))


def main(dataset, model, k=2, smooth=0.8):
    os.makedirs(model, exist_ok=True)
    (trials, time, neurons), y = read_npy(os.path.join(dataset, "observations.npy"))
    k = min(k, neurons)
    # Latents: the first k neurons, exponentially smoothed within each trial.
    z = []
    for t in range(trials):
        state = [y[(t * time) * neurons + j] for j in range(k)]
        for s in range(time):
            obs = [y[(t * time + s) * neurons + j] for j in range(k)]
            state = [smooth * a + (1 - smooth) * b for a, b in zip(state, obs)]
            z.extend(state)
    write_npy(os.path.join(model, "latents.npy"), (trials, time, k), z)
    mean = [sum(z[i::k]) / (len(z) // k) for i in range(k)]
    jac = [[-1.0 if i == j else 0.0 for j in range(k)] for i in range(k)]
    with open(os.path.join(model, "fixed_points.json"), "w") as f:
        json.dump({"time": "continuous", "points": [{"x": mean, "jacobian": jac}]}, f)
    queries = os.path.join(model, "queries")
    if os.path.exists(os.path.join(queries, "queries.json")):
        q = json.load(open(os.path.join(queries, "queries.json")))
        (n, kk), x0 = read_npy(os.path.join(queries, "initial_states.npy"))
        traj = []
        for i in range(n):
            for s in range(q["steps"]):
                decay = math.exp(-s * q["dt"])
                traj.extend(mean[j] + (x0[i * kk + j] - mean[j]) * decay for j in range(kk))
        write_npy(os.path.join(model, "trajectories.npy"), (n, q["steps"], kk), traj)
        print(f"wrote latents, fixed points and {n} trajectories to {model}")
    else:
        print(f"wrote latents and fixed points to {model}; next: learndyn recovery queries {dataset} {model}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: recovery_exchange.py DATASET MODEL")
    main(sys.argv[1], sys.argv[2])
