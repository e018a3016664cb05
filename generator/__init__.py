"""torch-metalgen's offline generator: op specs -> Metal kernels and C++/ObjC++ glue.

Run ``python -m generator`` to regenerate, ``python -m generator --check`` to verify the
checked-in output matches the specs. See docs/generator.md.
"""
