"""Code readers behind one interface, chosen by the ``[scanner]`` config (:func:`open_source`)."""

from gate.sources.base import LineFilter, Scan, Source, open_source

__all__ = ["LineFilter", "Scan", "Source", "open_source"]
