"Shared helpers for the benchmarks: where the data and the model are, and a timer."
import os, platform, time
from pathlib import Path

def data_folder(arg=None) -> Path:
    "The class-folder root of the data source in force (`--data`, `$MALARIA_DATA`, `$MALARIA_DATA_URL`, the setting)."
    from malaria_fastai.data import get_data
    return get_data(arg)

def machine() -> str:
    "The machine in a line: CPU model, cores, Python and torch threads."
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"

class timer:
    "Context manager measuring wall seconds in `.s`."
    def __enter__(self): self.t = time.perf_counter(); return self
    def __exit__(self, *a): self.s = time.perf_counter() - self.t
