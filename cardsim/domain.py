"""Names every layer shares: the provinces, the channels and the package version."""

__version__ = "0.1.0"

PROVINCES = ("sichuan", "chongqing")
CHANNELS = ("transit", "tourism", "government")
