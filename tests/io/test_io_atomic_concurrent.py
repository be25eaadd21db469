"""Several processes committing the same result folder at the same instant (issue 13)."""
import json
import multiprocessing as mp
from pathlib import Path

WRITERS = 4
TRIALS = 20


def _writer(args):
    final, wid, barrier = args
    from facesculpt.io.atomic import atomic_output_dir, write_json

    errors = []
    for trial in range(TRIALS):
        barrier.wait()
        try:
            with atomic_output_dir(final) as tmp:
                for i in range(3):
                    write_json(Path(tmp) / f"part{i}.json", {"writer": wid, "trial": trial})
        except Exception as e:  # noqa: BLE001 - reported to the test
            errors.append(f"{type(e).__name__}: {e}")
        barrier.wait()
    return errors


def test_concurrent_writers_all_succeed_and_leave_one_complete_result(tmp_path):
    ctx = mp.get_context("spawn")
    final = tmp_path / "out" / "photo"
    with ctx.Manager() as manager:
        barrier = manager.Barrier(WRITERS)
        with ctx.Pool(WRITERS) as pool:
            results = pool.map(_writer, [(str(final), w, barrier) for w in range(WRITERS)])
    assert [e for r in results for e in r] == []
    parts = [json.loads((final / f"part{i}.json").read_text()) for i in range(3)]
    assert len({(p["writer"], p["trial"]) for p in parts}) == 1, parts  # one writer's complete folder
    assert parts[0]["trial"] == TRIALS - 1
    assert sorted(p.name for p in final.parent.iterdir()) == ["photo"]  # no .tmp-/.old- leftovers
