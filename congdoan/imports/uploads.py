"""Refusing an over-large upload without reading it: the request's declared length is checked
before the body is touched, and this handler stops the multipart parser as soon as the file
passes the limit (for uploads that declare no length or lie about it)."""

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

#: room for the other form fields and the multipart boundaries around the file
MULTIPART_OVERHEAD = 64 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def declared_too_large(request, limit: int) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > limit + MULTIPART_OVERHEAD
