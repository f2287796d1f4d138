"""The batch runner: parallel runs, failures recorded per notebook, kernel-start retries, dask."""

from __future__ import annotations

import json

import nbformat
import pytest
from report_support import kyodo, notebook_dir, small_study

from kyodo_analysis.errors import ReportError
from kyodo_analysis.reporting import runner
from kyodo_analysis.reporting.report import run_report
from kyodo_analysis.reporting.suite import DEFAULT_SUITE, NotebookSpec, plan_runs, suite_for

SUITE = [NotebookSpec("tiny", "小さな表"), NotebookSpec("broken", "壊れた報告書"),
         NotebookSpec("tiny2", "小さな表２")]


def test_a_failing_notebook_is_recorded_and_the_others_finish(demo_study, tmp_path):
    nbs = notebook_dir(tmp_path / "nb", "tiny", "broken", copies={"tiny2": "tiny"})
    result = run_report(demo_study, 2025, out_root=tmp_path / "out", notebook_dir=nbs, suite=SUITE,
                        jobs=2)
    assert not result.ok and not result.latest
    by = {n.name: n for n in result.notebooks}
    assert by["tiny"].ok and by["tiny2"].ok
    broken = by["broken"]
    assert broken.status == "failed" and broken.error == "ValueError: broken on purpose"
    assert broken.cell == 3 and broken.cell_source == 'raise ValueError("broken on purpose")'
    assert broken.attempts == 1  # a failed analysis cell is never retried
    partial = nbformat.read(broken.ipynb, as_version=4)  # the partial executed notebook is kept
    assert any("before the failure" in o.get("text", "") for c in partial.cells
               if c.cell_type == "code" for o in c.outputs)
    assert broken.html is not None and broken.html.is_file()
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    entry = next(n for n in manifest["notebooks"] if n["id"] == "broken")
    assert entry["status"] == "failed" and entry["cell"] == 3 and manifest["status"] == "failed"
    index = result.index.read_text(encoding="utf-8")
    assert "失敗" in index and "セル3" in index and "broken on purpose" in index
    assert sorted(manifest["tables"]) == ["tiny/yesno", "tiny2/yesno"]
    assert not (result.directory.parent / "latest").exists()


def test_a_missing_notebook_is_an_error(demo_study, tmp_path):
    nbs = notebook_dir(tmp_path / "nb", "tiny")
    runs = plan_runs([NotebookSpec("tiny", "t")], demo_study, notebook_dir=nbs,
                     base={"study": "s", "fiscal_year": 1})
    assert [r.id for r in runs] == ["tiny"]
    with pytest.raises(ReportError, match=r"notebook not found: .*gone\.ipynb"):
        plan_runs([NotebookSpec("tiny", "t"), NotebookSpec("gone", "g")], demo_study,
                  notebook_dir=nbs, base={})


def test_the_default_suite_runs_every_district(demo_study):
    from kyodo_analysis.paths import notebook_dir as project_notebooks

    assert suite_for(demo_study) == DEFAULT_SUITE
    runs = plan_runs(DEFAULT_SUITE, demo_study, notebook_dir=project_notebooks(),
                     base={"study": "s", "fiscal_year": 2025})
    district = [r for r in runs if r.stem == "04_district"]
    assert [r.parameters["district"] for r in district if r.group == "中学校区"] == [
        "青山", "成岩", "半田", "乙川", "亀崎"]
    assert len([r for r in district if r.group == "小学校区"]) == 13
    assert {r.parameters["level"] for r in district} == {"中学校区", "小学校区"}
    city = [r for r in runs if r.group == "市全体"]
    assert [r.stem for r in city] == [
        "01_overview", "02_indicators", "03_trends", "05_comparison", "06_collaboration",
        "07_awareness", "08_crosstabs"]
    assert district[0].id == "04_district-1-1" and district[-1].id == "04_district-2-13"
    # city pages are the printed report's chapters in suite order; district pages are not
    assert [r.parameters["chapter"] for r in city] == list(range(1, len(city) + 1))
    assert not any("chapter" in r.parameters for r in district)


def test_table_and_figure_numbers_carry_the_chapter():
    from kyodo_analysis.views.page import Counter

    plain, ch = Counter(), Counter(3)
    assert [plain.table(), plain.table(), plain.figure()] == ["表1", "表2", "図1"]
    assert [ch.table(), ch.figure(), ch.table()] == ["表3-1", "図3-1", "表3-2"]
    assert Counter("").table() == "表1"  # a notebook run by hand, outside a report


def test_the_cli_exits_1_and_logs_when_a_notebook_fails(demo_dir, tmp_path):
    study = small_study(demo_dir, tmp_path / "study",
                        notebooks=[{"stem": "tiny"}, {"stem": "broken", "title": "壊れた"}])
    nbs = notebook_dir(tmp_path / "nb", "tiny", "broken")
    proc = kyodo("report", "--study", str(study), "--out", str(tmp_path / "out"),
                 "--notebook-dir", str(nbs), "--jobs", "2")
    assert proc.returncode == 1, proc.stderr
    assert "broken: FAILED at cell 3" in proc.stdout and "tiny: ok" in proc.stdout
    assert proc.stderr.strip().splitlines()[-1].startswith("kyodo: error: 1 of 2 notebooks failed")
    logs = list((tmp_path / "out" / "handa-demo" / "logs").glob("*.log"))
    assert len(logs) == 1
    text = logs[0].read_text(encoding="utf-8")
    assert "ERROR broken: FAILED at cell 3" in text and "INFO tiny: ok" in text


def test_a_notebook_over_its_time_limit_fails_as_timeout(tmp_path):
    nbs = notebook_dir(tmp_path / "nb", "slow")
    result = runner.execute_notebook(nbs / "slow.ipynb", tmp_path / "slow-out.ipynb",
                                     {"output_dir": ""}, timeout=3)
    assert not result.ok and result.status == "timeout" and result.cell == 2
    assert "3 s limit" in result.error and result.attempts == 1


class _FakePapermill:
    """Stands in for papermill.execute_notebook: fails the first ``n`` calls with ``exc``."""

    def __init__(self, real, exc: Exception, n: int):
        self.real, self.exc, self.n, self.calls = real, exc, n, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.n:
            raise self.exc
        return self.real(*args, **kwargs)


def test_kernel_start_failures_are_retried(tmp_path, monkeypatch):
    import papermill

    fake = _FakePapermill(papermill.execute_notebook,
                          RuntimeError("Kernel died before replying to kernel_info"), 2)
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    nbs = notebook_dir(tmp_path / "nb", "tiny")
    result = runner.execute_notebook(nbs / "tiny.ipynb", tmp_path / "o.ipynb", {"output_dir": ""})
    assert result.ok and result.attempts == 3 and fake.calls == 3


def test_kernel_start_retries_are_bounded(tmp_path, monkeypatch):
    import papermill

    fake = _FakePapermill(papermill.execute_notebook, TimeoutError("kernel start timed out"), 99)
    monkeypatch.setattr(papermill, "execute_notebook", fake)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    result = runner.execute_notebook(tmp_path / "x.ipynb", tmp_path / "o.ipynb", {},
                                     start_retries=2)
    assert not result.ok and result.status == "error" and fake.calls == 3


@pytest.mark.parametrize(("exc", "started", "retry"), [
    (RuntimeError("Kernel died before replying to kernel_info"), False, True),
    (TimeoutError("Kernel didn't respond in 60 seconds"), False, True),
    (OSError(98, "Address already in use"), False, True),
    (RuntimeError("Kernel died before replying to kernel_info"), True, False),
    (ValueError("bad value"), False, False),
    (type("CellTimeoutError", (TimeoutError,), {})("Cell execution timed out"), False, False),
])
def test_which_failures_count_as_kernel_start_failures(exc, started, retry):
    assert runner.is_kernel_start_failure(exc, cells_started=started) is retry


def test_runs_on_a_dask_local_cluster(demo_study, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    nbs = notebook_dir(tmp_path / "nb", "tiny", copies={"tiny2": "tiny"})
    suite = [NotebookSpec("tiny", "t"), NotebookSpec("tiny2", "t2")]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        result = run_report(demo_study, 2025, out_root=tmp_path / "out", notebook_dir=nbs,
                            suite=suite, scheduler=cluster.scheduler_address)
    assert result.ok, [n.describe() for n in result.notebooks]
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["executor"]["kind"] == "dask"
    assert sorted(manifest["tables"]) == ["tiny/yesno", "tiny2/yesno"]


def test_progress_bar_and_a_worker_that_dies(tmp_path, monkeypatch, capsys):
    import concurrent.futures as cf

    from kyodo_analysis.reporting import batch
    from kyodo_analysis.reporting.runner import NotebookJob, NotebookResult

    def fake_run_job(job):
        if job.id == "dies":
            raise MemoryError("worker killed")
        return NotebookResult(job.id, job.output, job.id == "good", None if job.id == "good" else "x")

    monkeypatch.setattr(batch, "run_job", fake_run_job)
    jobs = [NotebookJob(i, tmp_path / "s.ipynb", tmp_path / f"{i}.ipynb", tmp_path / f"{i}.html", i, {},
                        tmp_path) for i in ("good", "bad", "dies")]
    seen = []
    with cf.ThreadPoolExecutor(2) as ex:
        results = batch.run_batch(jobs, executor=ex, progress=True, on_result=seen.append)
    assert [r.name for r in results] == ["good", "bad", "dies"]
    assert [r.ok for r in results] == [True, False, False] and len(seen) == 3
    assert results[2].status == "error" and "MemoryError: worker killed" in results[2].error
    err = capsys.readouterr().err
    assert "3/3" in err and "failed=2" in err and "running=" in err


def test_the_cli_runs_on_a_dask_scheduler(demo_dir, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    study = small_study(demo_dir, tmp_path / "study", notebooks=[{"stem": "tiny"}])
    nbs = notebook_dir(tmp_path / "nb", "tiny")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp", dashboard_address=None) as cluster:
        proc = kyodo("report", "--study", str(study), "--out", str(tmp_path / "out"),
                     "--notebook-dir", str(nbs), "--scheduler", cluster.scheduler_address)
    assert proc.returncode == 0, proc.stderr
    assert "tiny: ok" in proc.stdout and "on tcp://" in proc.stderr


def test_kernels_run_their_numerical_libraries_single_threaded(tmp_path, monkeypatch):
    """One notebook per core: each kernel's BLAS gets one thread unless the user says otherwise."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "language": "python",
                                                          "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(
                    "import os\nimport numpy\nfrom threadpoolctl import threadpool_info\n"
                    "print('env', os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))\n"
                    "print('blas', sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))")]
    nbformat.write(nb, tmp_path / "threads.ipynb")

    def printed(name: str) -> str:
        result = runner.execute_notebook(tmp_path / "threads.ipynb", tmp_path / name, {"x": 2})
        assert result.ok, result.describe()
        cell = nbformat.read(tmp_path / name, as_version=4).cells[-1]
        return "".join(o.get("text", "") for o in cell.outputs)

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    out = printed("default.ipynb")
    assert "env 1 1" in out and "blas [1]" in out
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # the user's setting wins
    assert "env 2 1" in printed("user.ipynb")


def test_pages_start_longest_first_and_results_keep_the_suite_order(tmp_path):
    from kyodo_analysis.reporting.report import submission_order
    from kyodo_analysis.reporting.runner import NotebookJob

    def job(name: str, **params) -> NotebookJob:
        return NotebookJob(name, tmp_path / f"{name}.ipynb", tmp_path / "o.ipynb", tmp_path / "o.html",
                           name, params, tmp_path)

    jobs = [job("01"), job("04-a", district="a"), job("04-b", district="b"), job("08"), job("09")]
    # no previous run: city pages first, the short district pages fill in after them
    assert submission_order(jobs, tmp_path / "none") == [0, 3, 4, 1, 2]
    previous = tmp_path / "latest"
    previous.mkdir()
    (previous / "manifest.json").write_text(json.dumps({"notebooks": [
        {"id": "01", "seconds": 9.0}, {"id": "04-a", "seconds": 6.0}, {"id": "04-b", "seconds": 7.0},
        {"id": "08", "seconds": 30.0}]}), encoding="utf-8")
    # longest first by the previous run; a page it did not run ("09") counts as the longest
    assert submission_order(jobs, previous) == [3, 4, 0, 2, 1]
    (previous / "manifest.json").write_text("{not json", encoding="utf-8")
    assert submission_order(jobs, previous) == [0, 3, 4, 1, 2]
