"""Serving-side domain logic for the BentoML services in ``bentos/`` (no BentoML import here).

The services stay thin: they parse HTTP, call these modules, and map :class:`RequestError`
to a 4xx answer. Everything here is importable and testable without a server:

* :mod:`.errors` — the client-error type every service answers with 4xx;
* :mod:`.http` — the ASGI guard in front of each service: credential, body limit (413), media
  type (415), validation (400), one JSON error object and one log line per refusal;
* :mod:`.lineage` — the lineage block every answer carries;
* :mod:`.batching` — the adaptive micro-batcher used by the maintenance service;
* :mod:`.maintenance` — request/answer schemas, the scorer, machine-id feature lookup, shadow log;
* :mod:`.maintenance_runtime` — the service assembled from its environment, model reload;
* :mod:`.defect` — upload limits, image decoding, the detector wrapper;
* :mod:`.model_store` — importing champions from MLflow into the BentoML model store;
* :mod:`.build` — ``bentoml build`` for a service folder;
* :mod:`.tracing` — skipping OpenTelemetry spans that no exporter receives.
"""
