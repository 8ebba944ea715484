"""Certificates of the competitive ratios that groupmatch states (see docs/proofs)."""
