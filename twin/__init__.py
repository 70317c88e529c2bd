"""The digital twin: patient records, the flagship model and the ``twin`` command line."""
