"""The training monitor: read any training log, keep the run's state, raise alarms.

- `records`: `EpochRecord` (canonical per-epoch numbers) and run-level info;
- `parsers`: incremental readers for our epoch events, Keras CSVLogger files and
  Keras console output, plus format sniffing;
- `tensorboard`: TensorBoard event files (a log folder's train/ and validation/)
  merged into epoch records, without TensorFlow;
- `alarms`: pure rules over records (gap, collapse, overfitting, NaN, dead job);
- `state`: `RunState`, the model both faces draw (the runs of a log, best epoch,
  ETA, new alarms);
- `follow`: tail a file or a job on any `Host` from a byte offset, in batches;
- `gpu`: nvidia-smi on the host; `format`: how numbers are shown.

No Textual and no TensorFlow here: the CLI (`nexara monitor`) and the TUI's
Monitor screen are thin faces over these modules.
"""
