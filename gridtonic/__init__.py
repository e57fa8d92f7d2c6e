"""gridtonic: an introspective drum machine played from a grid."""

__version__ = "0.1.0"
