"""Clinical microsystems workbench: reproducible cross-case analysis of coded interviews,
self-assessment surveys and outcomes across microsystems."""

__all__ = ["__version__"]

__version__ = "0.1.0"
