"""`python -m pulse_client`: generate the stubs from proto/ and print where."""

from . import _proto

print(_proto.generate(force=True))
