"""leadscore: predictive lead scoring that explains every score in the lead's own actions."""

__version__ = "0.1.0"
