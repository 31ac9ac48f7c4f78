"""Scale-out: a plant's hour split by production line, and steps run on Celery workers."""
