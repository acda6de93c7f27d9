"""The fs service: the file store `/fs/<path>` and the public uploader `/<partition>`.

Uploads stream into the service's volume and are renamed into place once on disk; downloads are
handed to the gateway (`X-Accel-Redirect`) so nginx serves the bytes.
"""
