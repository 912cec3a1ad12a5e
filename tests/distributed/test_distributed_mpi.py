"""ember.distributed on real MPI jobs: each test starts ranks in fresh processes (the launcher, mpiexec, or MPI's
singleton) and checks their exit status and output. The rank-side checks live in ranks_*.py (pytest runs them
on every rank). Skips without mpi4py and an mpiexec (`pip install 'ember[distributed]'`)."""
import os
import subprocess
import sys
import time

import pytest

from ember.distributed import run as launcher

pytest.importorskip("mpi4py")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
try:
    MPIEXEC = launcher.find_mpiexec()
except SystemExit:
    pytest.skip("no mpiexec", allow_module_level=True)


def launch(*args, timeout=180, env=None, nproc=2):
    """Run the launcher with `args`; (exit status, output, seconds)."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


def run_ranks_pytest(name, nproc=2, env=None):
    code, out, _ = launch("-m", "pytest", os.path.join(HERE, name), "-p", "no:cacheprovider", "--color=no",
                          nproc=nproc, env=env)
    summaries = [line for line in out.splitlines() if " passed" in line or " failed" in line]
    assert code == 0 and len(summaries) == nproc and not any("failed" in s for s in summaries), out[-6000:]
    return summaries


def test_collectives_on_two_ranks():
    summaries = run_ranks_pytest("ranks_collectives.py")
    assert all("136 passed" in s for s in summaries), summaries


def test_nccl_backend_on_two_ranks_of_the_emulated_device():
    summaries = run_ranks_pytest("ranks_nccl.py", env={"EMBER_EMULATE_CUDA": "1"})
    assert all("18 passed" in s for s in summaries), summaries


def test_distributed_data_parallel_on_two_ranks(tmp_path):
    summaries = run_ranks_pytest("ranks_ddp.py", env={"EMBER_TEST_DIR": str(tmp_path)})
    assert all("11 passed" in s for s in summaries), summaries


@pytest.mark.parametrize("cuda", ["", "1"], ids=["cpu", "emulated-cuda"])
def test_a_group_of_one_without_mpiexec(cuda):
    done = subprocess.run([sys.executable, "-m", "pytest", os.path.join(HERE, "ranks_single.py"), "-p",
                           "no:cacheprovider", "--color=no"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, EMBER_EMULATE_CUDA=cuda))
    expected = "6 passed" if cuda else "4 passed, 2 skipped"
    assert done.returncode == 0 and expected in done.stdout, done.stdout + done.stderr


SCRIPT = """
import os, sys, time, signal, datetime, json
import ember as torch, ember.distributed as dist
mode = sys.argv[1]
if mode == "env":
    print("ENV", json.dumps({k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
          "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")}), json.dumps(sys.argv), sep="\t",
          flush=True)
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=float(os.environ.get("T", "60"))))
rank = dist.get_rank()
if rank == 1 and mode == "raise":
    raise ValueError("boom on rank 1")
if rank == 1 and mode == "kill":
    os.kill(os.getpid(), signal.SIGKILL)
if rank == 1 and mode == "stall":
    time.sleep(60)
t = torch.ones(2) * (rank + 1)
dist.all_reduce(t)
print("RESULT", rank, dist.get_world_size(), t.tolist(), flush=True)
"""


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("dist") / "job.py"
    path.write_text(SCRIPT)
    return str(path)


def test_the_launcher_sets_torchruns_variables(script):
    import json
    code, out, _ = launch("--master-port", "29555", script, "env", "--flag", "x")
    assert code == 0, out
    envs = sorted(((json.loads(line.split("\t")[1]), json.loads(line.split("\t")[2]))
                   for line in out.splitlines() if line.startswith("ENV\t")), key=lambda pair: pair[0]["RANK"])
    assert [e["RANK"] for e, _ in envs] == ["0", "1"] and [e["LOCAL_RANK"] for e, _ in envs] == ["0", "1"]
    for e, argv in envs:
        assert (e["WORLD_SIZE"], e["LOCAL_WORLD_SIZE"], e["GROUP_RANK"]) == ("2", "2", "0")
        assert (e["MASTER_ADDR"], e["MASTER_PORT"], e["TORCHELASTIC_RUN_ID"]) == ("127.0.0.1", "29555", "none")
        assert argv == [script, "env", "--flag", "x"]
    assert sorted(line for line in out.splitlines() if line.startswith("RESULT")) == \
        ["RESULT 0 2 [3.0, 3.0]", "RESULT 1 2 [3.0, 3.0]"]


def test_scripts_started_by_mpiexec_directly(script):
    env = dict(os.environ)
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("RANK", "WORLD_SIZE"):
        env.pop(name, None)
    command = [MPIEXEC, "-n", "2"] + (["--oversubscribe"] if launcher._flavour(MPIEXEC) == "openmpi" else [])
    done = subprocess.run(command + [sys.executable, script, "plain"], capture_output=True, text=True, timeout=120,
                          env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(line for line in done.stdout.splitlines() if line.startswith("RESULT")) == \
        ["RESULT 0 2 [3.0, 3.0]", "RESULT 1 2 [3.0, 3.0]"]


def test_a_rank_that_raises_ends_the_job_with_its_traceback(script):
    code, out, seconds = launch(script, "raise")
    assert code != 0 and seconds < 30, out
    assert "ValueError: boom on rank 1" in out and "[rank 1] failed" in out
    assert "RESULT" not in out


def test_a_killed_rank_ends_the_job(script):
    code, out, seconds = launch(script, "kill")
    assert code != 0 and seconds < 30, out
    assert "RESULT" not in out


def test_a_collective_past_its_timeout_ends_the_job(script):
    code, out, seconds = launch(script, "stall", env={"T": "1.5"})
    assert code != 0 and seconds < 30, out
    assert "[rank 0] ember.distributed: all_reduce did not complete within its timeout of 1.5 s" in out


# -- the launcher's command line (no MPI job) -----------------------------------------------------------------

def test_launcher_command_for_open_mpi_and_mpich():
    args = launcher.parse_args(["--nproc_per_node", "3", "--master_port", "1234", "train.py", "--lr", "0.1"])
    command, env = launcher.mpiexec_command(args, "/x/mpiexec", "openmpi")
    assert command[:3] == ["/x/mpiexec", "-n", "3"] and command[-3:] == ["train.py", "--lr", "0.1"]
    assert command[-6:-3] == [sys.executable, "-m", "ember.distributed._rank_main"]
    assert ["-x", "MASTER_PORT"] == command[command.index("MASTER_PORT") - 1:command.index("MASTER_PORT") + 1]
    assert env["WORLD_SIZE"] == "3" and env["MASTER_PORT"] == "1234" and env["LOCAL_WORLD_SIZE"] == "3"
    args = launcher.parse_args(["--nnodes", "2", "--nproc-per-node", "2", "--hosts", "a,b", "-m", "pkg.train"])
    command, env = launcher.mpiexec_command(args, "mpiexec", "mpich")
    assert command[:5] == ["mpiexec", "-n", "4", "-ppn", "2"] and ["-hosts", "a,b"] == command[5:7]
    assert ["-genv", "WORLD_SIZE", "4"] == command[command.index("WORLD_SIZE") - 1:command.index("WORLD_SIZE") + 2]
    assert command[-2:] == ["-m", "pkg.train"] and env["GROUP_WORLD_SIZE"] == "2"


@pytest.mark.parametrize("argv, message", [
    (["--nnodes", "2", "t.py"], "--hosts"),
    (["--node-rank", "1", "t.py"], "first node only"),
    (["--nnodes", "1:4", "t.py"], "fixed number of nodes"),
    (["--nproc-per-node", "zero", "t.py"], "expected a number"),
])
def test_launcher_refuses_what_mpi_cannot_do(argv, message):
    with pytest.raises(SystemExit, match=message):
        launcher.mpiexec_command(launcher.parse_args(argv), "mpiexec", "openmpi")


def test_the_ddp_digits_example(tmp_path):
    pytest.importorskip("sklearn")
    code, out, _ = launch(os.path.join(ROOT, "examples", "ddp_digits.py"), "--epochs", "3", "--out", str(tmp_path))
    assert code == 0, out
    accuracy = [float(line.rsplit(" ", 1)[1]) for line in out.splitlines() if "test accuracy" in line]
    assert len(accuracy) == 3 and accuracy[-1] > 0.85, out            # printed by rank 0 only
    import ember
    state = ember.load(tmp_path / "ddp_digits.pt")
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
