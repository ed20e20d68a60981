"""Reading the input: file formats, validation, the task (text or relation) and its encoder inputs,
and label-noise injection for benchmarks."""
