"""Reports: verdicts in, text out.  They see plain data, never SymPy objects."""
