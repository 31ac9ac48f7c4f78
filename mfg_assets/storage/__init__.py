"""Where partition files live: the local data directory or an S3 bucket, behind one interface."""
