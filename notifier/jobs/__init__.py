"""Batch jobs: the stages of the data flow run one after another on one set of frames."""
