"""A preempted run (its Slurm job requeued or timed out) goes back to the queue however
often it happens, without spending the retries kept for real failures."""

from __future__ import annotations

from support.store import cfg

from storage import RunStore


def test_preemptions_requeue_without_spending_retries(store: RunStore) -> None:
    run_id = store.create_run(cfg(), max_retries=1)
    for n in range(3):  # more preemptions than retries
        assert store.claim_next_run(f"node:{n}:cpu", "cpu", "node") is not None
        outcome = store.mark_interrupted(run_id, "its Slurm job was stopped", preempted=True)
        assert outcome.status == "queued"
        assert "does not use a retry" in outcome.reason
    run = store.get_run(run_id)
    assert (run.status, run.attempt) == ("queued", 4)
    assert run.max_retries - (run.attempt - 1) == 1  # the one retry is still there
    # A real interruption still spends it, then stops.
    assert store.claim_next_run("node:9:cpu", "cpu", "node") is not None
    assert store.mark_interrupted(run_id, "the training process was killed").status == "queued"
    assert store.claim_next_run("node:9:cpu", "cpu", "node") is not None
    assert store.mark_interrupted(run_id, "killed again").status == "interrupted"
    assert [a.outcome for a in store.get_run(run_id).attempts] == ["interrupted"] * 5
