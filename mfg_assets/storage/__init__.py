"""Where files live, without Dagster: file stores over a local directory or an S3 bucket
(:mod:`.files`), the storage root and artifact areas (:mod:`.location`), the partition-storage
contract (:mod:`.partitions`) and the S3 client from the settings (:mod:`.s3`)."""
