"""Running an installation: backing up and restoring the embedded database."""
