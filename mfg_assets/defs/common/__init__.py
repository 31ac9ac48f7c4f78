"""Building blocks the asset-group modules share: partitions, policies, checks, metadata, the
model-lifecycle steps and Kubernetes tags. No assets live here."""
