"""sensorbench: measure what security sensing costs and loses, kernel versus user space.

Kept import-light on purpose: workload and sensor processes import parts of this package,
and pulling pandas into them would distort the CPU and memory being measured.
"""

__version__ = "0.1.0"
