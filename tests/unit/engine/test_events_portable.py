"""Events cross process boundaries: unpickling one must never drag torch into the reader."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

from engine.config import config_from_preset
from engine.train import train

REPO = Path(__file__).resolve().parents[3]


def test_unpickling_every_event_of_a_run_does_not_import_torch(tmp_path: Path) -> None:
    config = config_from_preset("seed", dataset="synthetic", limit_train=48, batch_size=16,
                                epochs=2, width_mult=0.125, device="cpu", log_every=1)
    events: list = []
    train(config, events.append, checkpoint_dir=tmp_path)
    payload = tmp_path / "events.pkl"
    payload.write_bytes(pickle.dumps(events))
    assert {type(e).__name__ for e in events} >= {"RunStarted", "StepMetrics", "EpochMetrics",
                                                  "RunFinished"}
    code = ("import pickle, sys; events = pickle.load(open(sys.argv[1], 'rb')); "
            "print(len(events), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(payload)], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(events)), "False"]
