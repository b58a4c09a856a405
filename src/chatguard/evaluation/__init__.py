"""Measuring a configured pipeline on labeled data (`chatguard evaluate`)."""
