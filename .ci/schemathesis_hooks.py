"""Schemathesis hooks for .ci/fuzz-api.

The tus PATCH (`/api/v1/uploads/{id}`) takes its body as `application/offset+octet-stream`,
the media type tus 1.0.0 requires. Schemathesis has no serializer for it, so its fuzzing phase
stopped with "Serialization not possible"; the body is plain bytes, so the built-in
octet-stream serializer sends it as it is.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
