"""Results people can show and use: report files, predictions and exports.

Beside worker/ on the floors: it reads the store and, for predictions, loads checkpoints
with the engine. Heavy libraries (matplotlib, tensorboard, mlflow) are imported inside the
functions that need them, never at import time.
"""
