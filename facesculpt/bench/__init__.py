"""Quality benchmarks run from the command line (`facesculpt benchmark ...`)."""
