"""The hostile-input suite: files, arguments, feed frames, storage faults and signals."""
