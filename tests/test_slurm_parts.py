"""The pure parts of the Slurm backend, without a cluster: the job script a run gets, the
[slurm] options and flags over them, what Slurm's commands print, and the status a
person sees of a run in Slurm's queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import Config
from moetui import status
from moetui.errors import MoetuiError
from moetui.slurm_config import SlurmConfigError, SlurmOptions, from_table, keys, load
from moetui.slurm_jobs import JobView, gpus_per_node, parse_job_id, parse_sacct, parse_squeue, refusal, unreachable
from moetui.slurm_script import job_for, render
from moetui.status import Liveness, derive
from tests.cli_helpers import moetui

RUN = Path("/shared/runs/20260101-000000-0000-quick")


def _script(config: Config | None = None, resume: bool = False, **options) -> str:
    return render(job_for(RUN, "quick lr 2", SlurmOptions(**options), config or Config(), resume))


def _sbatch_lines(script: str) -> list[str]:
    return [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH ")]


def test_a_one_gpu_job_runs_the_local_launchers_engine_command_under_srun_into_the_run_dir():
    script = _script(partition="gpu", account="lab", time="04:00:00", mem="64G", cpus_per_task=8)
    assert _sbatch_lines(script) == [
        "--job-name=quick-lr-2", f"--output={RUN}/engine.log", "--open-mode=append", f"--chdir={RUN}",
        "--no-requeue", "--nodes=1", "--ntasks-per-node=1", "--signal=TERM@120", "--partition=gpu",
        "--account=lab", "--time=04:00:00", "--cpus-per-task=8", "--mem=64G", "--gres=gpu:1"]
    last = script.splitlines()[-1]
    assert last.startswith("exec srun --ntasks-per-node=1 --kill-on-bad-exit=1 --cpus-per-task=8 ")
    assert f"-P -m engine --config {RUN}/config.toml --run-dir {RUN} >/dev/null" in last
    assert "torchrun" not in script and "--resume" not in script
    assert "PYTHONSAFEPATH=1" in script and f"touch {RUN}/heartbeat" in script


def test_a_resubmission_resumes_and_setup_lines_come_before_the_engine():
    script = _script(resume=True, setup=["module load cuda/12.4", "source ~/venv/bin/activate"],
                     python="/shared/venv/bin/python", extra_sbatch=["--qos=high", "--constraint=a100"])
    lines = script.splitlines()
    assert lines.index("module load cuda/12.4") < lines.index("source ~/venv/bin/activate") < len(lines) - 1
    assert lines[-1].split()[4:6] == ["/shared/venv/bin/python", "-P"] and "--resume" in lines[-1]
    assert _sbatch_lines(script)[-2:] == ["--qos=high", "--constraint=a100"]  # extra lines last: they win


@pytest.mark.parametrize("flag, gpu_type, line", [("gres", None, "--gres=gpu:4"), ("gres", "a100", "--gres=gpu:a100:4"),
                                                  ("gpus", None, "--gpus-per-node=4"),
                                                  ("gpus", "h100", "--gpus-per-node=h100:4")])
def test_gpus_are_asked_for_as_gres_or_gpus_per_node(flag, gpu_type, line):
    script = _script(gpus_per_node=4, gpu_flag=flag, gpu_type=gpu_type)
    assert line in _sbatch_lines(script)
    assert "--standalone --nproc_per_node=4 -m engine" in script  # one machine: torchrun's own rendezvous


def test_a_cpu_run_asks_for_no_gpus_and_starts_one_cpu_rank_per_gpu_slot():
    on_cpu = Config().apply_overrides(["train.device=cpu"])
    script = _script(on_cpu, gpus_per_node=2)
    assert not any("gpu" in line for line in _sbatch_lines(script))
    assert "--nproc_per_node=2" in script
    assert not any("gpu" in line for line in _sbatch_lines(_script(gpus_per_node=0)))


def test_a_run_across_nodes_starts_torchrun_on_each_with_a_c10d_rendezvous_on_the_first():
    script = _script(nodes=4, gpus_per_node=8)
    assert "--nodes=4" in _sbatch_lines(script) and "--gres=gpu:8" in _sbatch_lines(script)
    assert 'head=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)' in script
    assert "PET_RDZV_BACKEND=c10d" in script and "export PET_RDZV_ENDPOINT=$head:$((20000 + SLURM_JOB_ID % 20000))" \
        in script
    assert "--standalone" not in script and "-m engine.torchrun --nproc_per_node=8 -m engine" in script
    assert "TORCH_ELASTIC_SHUTDOWN_TIMEOUT=300" in script  # room for the ranks to checkpoint after a stop
    assert "PET_RDZV_ENDPOINT=$head:29400" in _script(nodes=2, rdzv_port=29400)
    assert "--signal" not in script.replace("--signal=TERM@120", "") and "--signal" not in _script(signal_before=0)


def test_flags_override_the_config_file_and_add_sbatch_lines(monkeypatch, tmp_path):
    monkeypatch.setenv("MOETUI_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text('[slurm]\npartition = "gpu"\ntime = "01:00:00"\n'
                                          'extra_sbatch = ["--qos=low"]\nsetup = ["module load cuda"]\n')
    options = load({"time": "02:00:00", "partition": None, "extra_sbatch": ["--exclusive"], "nodes": 2})
    assert (options.partition, options.time, options.nodes) == ("gpu", "02:00:00", 2)
    assert options.extra_sbatch == ["--qos=low", "--exclusive"] and options.setup == ["module load cuda"]
    assert load() == from_table({"partition": "gpu", "time": "01:00:00", "extra_sbatch": ["--qos=low"],
                                 "setup": ["module load cuda"]}, "test")


@pytest.mark.parametrize("table, words", [
    ({"partitoin": "gpu"}, "unknown Slurm option 'partitoin'; did you mean 'partition'?"),
    ({"nodes": 0}, "nodes = 0 is out of range; nodes must be at least 1"),
    ({"nodes": "2"}, "nodes = '2' is not a whole number"),
    ({"gpus_per_node": True}, "gpus_per_node = True is not a whole number"),
    ({"gpu_flag": "gpu"}, "gpu_flag = 'gpu' is not one of gres, gpus"),
    ({"extra_sbatch": "--qos=high"}, "extra_sbatch = '--qos=high' is not a list of strings"),
    ({"extra_sbatch": ["qos=high"]}, "extra_sbatch item 'qos=high' is not one sbatch option"),
    ({"time": "1:00\n#SBATCH --x"}, "is not a one-line string"),
])
def test_a_bad_option_is_one_line_naming_the_key(table, words):
    with pytest.raises(SlurmConfigError) as error:
        from_table(table, "config.toml [slurm]")
    assert str(error.value).startswith("config.toml [slurm]: ") and words in str(error.value)


def test_a_config_file_that_is_not_toml_names_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("MOETUI_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text("[slurm\n")
    with pytest.raises(MoetuiError, match=f"cannot read {tmp_path / 'config.toml'}"):
        load()


def test_squeue_sacct_and_sbatch_output_are_read():
    jobs = parse_squeue("12|PENDING|Priority|\n13|RUNNING|None|gpu[01-02]\n14|TIMEOUT|TimeLimit|gpu03\nnoise\n")
    assert jobs["12"] == JobView("12", "PENDING", "Priority", None)
    assert [jobs[j].liveness for j in ("12", "13", "14")] == [Liveness.PENDING, Liveness.ALIVE, Liveness.GONE]
    assert jobs["12"].words() == "Slurm job 12 waits: Priority"
    assert jobs["13"].words() == "Slurm job 13 running on gpu[01-02]"
    assert jobs["14"].words().startswith("Slurm job 14 ended TIMEOUT: its time limit passed")
    assert parse_sacct("7", "CANCELLED by 1000|None|node1\n") == JobView("7", "CANCELLED", None, "node1")
    assert parse_sacct("7", "") is None
    assert parse_job_id("4242\n") == "4242" and parse_job_id("4242;cluster2") == "4242"
    assert parse_job_id("sbatch: error: nope") is None
    assert refusal("sbatch: error: invalid partition specified: nope\n"
                   "sbatch: error: Batch job submission failed: Invalid partition name specified\n") == \
        "invalid partition specified: nope; Batch job submission failed: Invalid partition name specified"
    no_controller = refusal("sbatch: error: fetch_config: DNS SRV lookup failed\n"
                            "sbatch: fatal: Could not establish a configuration source\n")
    assert unreachable(no_controller) and not unreachable("invalid partition specified: nope")


def test_the_gpus_of_a_partitions_nodes_come_from_sinfo_gres():
    assert gpus_per_node("(null)\n") == 0
    assert gpus_per_node("gpu:4\ngpu:8(S:0-1)\n") == 8
    assert gpus_per_node("gpu:a100:4(S:0,1),gpu:v100:2\n") == 6
    assert gpus_per_node("gpu:a100:4(S:0,1),gpu:v100:2\n", "v100") == 2
    assert gpus_per_node("gpu:tesla:2,mps:100\n") == 2


def test_a_run_in_slurms_queue_shows_what_slurm_says():
    assert derive("queued", Liveness.PENDING, None, 300, True, True, "Slurm job 3 waits: Priority") == \
        status.Seen("queued", "Slurm job 3 waits: Priority")
    assert derive("queued", Liveness.ALIVE, 9999.0, 300, True, True, "on n1").status == "running"  # engine loading
    assert derive("queued", Liveness.GONE, None, 300, True, True, "Slurm job 3 ended NODE_FAIL: its node failed") == \
        status.Seen("crashed", "Slurm job 3 ended NODE_FAIL: its node failed")
    assert derive("running", Liveness.GONE, 1.0, 300, True, False, "Slurm job 3 ended TIMEOUT: ...").reason == \
        "Slurm job 3 ended TIMEOUT: ..."
    assert derive("running", Liveness.PENDING, 1.0, 300, True).status == "queued"
    assert derive("queued", Liveness.GONE, None, 300) == status.Seen("queued")  # the store's own queue


def test_slurm_show_prints_the_script_and_slurm_flags_need_slurm(runs_dir):
    shown = moetui("slurm", "show", "quick", "--nodes", "2", "--gpus-per-node", "4", "--partition", "gpu",
                   "--sbatch=--qos=high")
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("#!/bin/bash\n") and "#SBATCH --qos=high" in shown.stdout
    assert f"--chdir={runs_dir.resolve()}/RUN-ID" in shown.stdout and "--nproc_per_node=4" in shown.stdout
    alone = moetui("run", "quick", "--partition", "gpu")
    assert alone.exit_code == 1 and alone.stderr == "moetui: --partition is a Slurm option; add --slurm to submit to Slurm\n"
    both = moetui("run", "quick", "--slurm", "--queue")
    assert both.exit_code == 1 and "--queue is this machine's queue and --slurm is Slurm's" in both.stderr
    assert list(runs_dir.iterdir()) == []


def test_without_sbatch_on_path_a_slurm_run_is_one_line_and_nothing_is_written(runs_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm commands here
    result = moetui("run", "quick", "--slurm", "--gpus-per-node", "0", "--detach")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == ("moetui: sbatch not found on PATH: Slurm's client commands are "
                                              "needed here; run moetui on the cluster's login node, or load them "
                                              "(e.g. module load slurm)")
    assert list(runs_dir.iterdir()) == []


def test_every_slurm_option_is_in_the_docs_table():
    table = (Path(__file__).resolve().parents[1] / "docs" / "scaling.md").read_text()
    assert [f.name for f in keys() if f"| `{f.name}` |" not in table] == []


def test_a_flag_of_zero_still_overrides_the_config_file(monkeypatch, tmp_path):
    monkeypatch.setenv("MOETUI_CONFIG_DIR", str(tmp_path))
    (tmp_path / "config.toml").write_text("[slurm]\ngpus_per_node = 4\n")
    shown = moetui("slurm", "show", "--gpus-per-node", "0")
    assert shown.exit_code == 0 and "gpu" not in "".join(_sbatch_lines(shown.stdout)), shown.stdout
    assert "--gres=gpu:4" in moetui("slurm", "show").stdout
