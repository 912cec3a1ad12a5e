"""What each rank of `python -m ember.distributed.run` runs: set torchrun's per-rank variables from MPI's, run the
training script as __main__, and make a failure end the whole job (its traceback printed first)."""
import os
import runpy
import sys
import traceback

# Each MPI names the rank in the environment of the processes it starts, before MPI is initialised.
_RANK = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MPI_RANKID")
_LOCAL_RANK = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MPICH_LOCAL_RANK")


def _first(names):
    for name in names:
        if os.getenv(name) is not None:
            return int(os.environ[name])
    return None


def set_rank_environment():
    rank = _first(_RANK)
    if rank is None:
        raise SystemExit("ember.distributed._rank_main: not started by mpiexec (no MPI rank in the environment); "
                         "use `python -m ember.distributed.run`")
    nproc = int(os.environ.get("EMBER_RUN_NPROC_PER_NODE", "1"))
    local = _first(_LOCAL_RANK)
    os.environ["RANK"] = os.environ["ROLE_RANK"] = str(rank)
    os.environ["LOCAL_RANK"] = str(rank % nproc if local is None else local)
    os.environ["GROUP_RANK"] = str(rank // nproc)


def _end_job(code):
    """Abort the MPI job if this rank started MPI (a plain exit would leave the others waiting in a collective);
    otherwise exit, and mpiexec ends the job when it sees the non-zero status."""
    mpi = sys.modules.get("mpi4py.MPI")
    sys.stdout.flush()
    sys.stderr.flush()
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        mpi.COMM_WORLD.Abort(code)
    os._exit(code)


def main(argv):
    set_rank_environment()
    no_python = argv[:1] == ["--no-python"]
    as_module = argv[:1] == ["-m"]
    argv = argv[1:] if (no_python or as_module) else argv
    if not argv:
        raise SystemExit("ember.distributed._rank_main: no script to run")
    if no_python:
        os.execvp(argv[0], argv)
    sys.argv = list(argv)
    try:
        if as_module:
            runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as done:
        code = done.code
        if code not in (None, 0):
            if not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
            _end_job(code)
        raise
    except BaseException:
        print(f"[rank {os.environ['RANK']}] failed:", file=sys.stderr)
        traceback.print_exc()
        _end_job(1)


if __name__ == "__main__":
    main(sys.argv[1:])
