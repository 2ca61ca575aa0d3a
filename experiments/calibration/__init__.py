"""Calibration: the observed data, once (`observed`: path, reading, periods, weak
rows), the model against it row by row (`validate`), and the fit of the uncertain
parameters to the in-sample rows (`calibrate`)."""
