"""Ctrl-C and SIGTERM at any point of a run: one line, the conventional exit code, nothing half-written."""
import os
import signal

from facesculpt import cli


def test_ctrl_c_during_start_up_is_one_line(monkeypatch, capsys):
    def slow_imports():  # the parser imports torch and the models' modules: seconds in which Ctrl-C lands
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", slow_imports)
    assert cli.main(["reconstruct", "x.jpg"]) == 130
    err = capsys.readouterr().err
    assert err == "interrupted\n"


def test_sigterm_unwinds_like_ctrl_c_and_exits_143(tmp_path, monkeypatch, capsys):
    from facesculpt.io.atomic import atomic_output_dir

    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def work(args):
        with atomic_output_dir(tmp_path / "result") as tmp:
            (tmp / "half.txt").write_text("half")
            os.kill(os.getpid(), signal.SIGTERM)  # `kill`, `timeout`, a scheduler stopping the job
            seen.append("not reached")
        return 0

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: type("A", (), {"func": staticmethod(work)})())
    assert cli.main([]) == 143
    assert capsys.readouterr().err == "terminated\n" and not seen
    assert list(tmp_path.iterdir()) == []  # the temporary folder went with the exception
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the program's only while it runs


def test_interrupt_before_the_first_result_removes_the_folder_it_made(tmp_path, grace_hopper, monkeypatch, capsys):
    from PIL import Image

    from facesculpt.report.cli import start_batch

    photo = tmp_path / "photo.jpg"
    Image.fromarray(grace_hopper).save(photo)

    def interrupted(args, cfg, entries, outdir, box=None):
        start_batch(outdir)  # the viewer's shared scripts are written before the first result is committed
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_reconstruct_entries", interrupted)
    out = tmp_path / "new" / "out"
    assert cli.main(["reconstruct", str(photo), "-o", str(out), "--quiet"]) == 130
    assert not (tmp_path / "new").exists()  # both folders this run created, with the scripts in them
    # a folder that was there before keeps what it holds
    kept = tmp_path / "kept"
    start_batch(kept)
    assert cli.main(["reconstruct", str(photo), "-o", str(kept), "--quiet"]) == 130
    assert [p.name for p in kept.iterdir()] == ["_report"]


def test_a_swallowed_ctrl_c_still_stops_the_batch(tmp_path, grace_hopper, monkeypatch, capsys):
    """Ctrl-C while numba compiles its kernels (a first run) raises inside llvmlite's ctypes callback, which prints
    and swallows the exception; the handler's flag stops the batch before the next input all the same."""
    from PIL import Image

    import facesculpt.pipeline as pipeline

    for name in ("a.jpg", "b.jpg"):
        Image.fromarray(grace_hopper).save(tmp_path / name)
    fitted = []

    def swallowed(image, config=None, **kw):
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler raises here ...
        except KeyboardInterrupt:
            pass  # ... and a C callback swallows it
        fitted.append(kw.get("name"))
        raise RuntimeError("no result in this test")

    monkeypatch.setattr(pipeline, "reconstruct_all", swallowed)
    assert cli.main(["reconstruct", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "-o", str(tmp_path / "out"),
                     "--quiet"]) == 130
    assert len(fitted) == 1 and not (tmp_path / "out").exists()
    assert capsys.readouterr().err.strip().endswith("interrupted")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
