"""Work beside the caller, for the long imports (members, bank statements).

``in_background`` runs a producer in a second thread and hands its items over one by one, so that
Python work (reading, checking, matching) goes on while the caller waits for the database.
``copy_field`` writes a value in PostgreSQL COPY's text format, for the chunks such producers
prepare so that the thread talking to the database only sends bytes.
"""

import datetime
import queue
import threading

_END = object()
#: NULL in COPY's text format, and the escapes a text value needs there
COPY_NULL = "\\N"
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(text: str) -> str:
    """Text in COPY's text format. Translated only when it holds a backslash, tab, new line or carriage return:
    most texts hold none, and looking costs a seventeenth of translating (0.13 against 2.3 µs for a bank note)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(COPY_ESCAPES)
    return text


def copy_field(value) -> str:
    """A value (None, text, date or datetime, number) in COPY's text format."""
    if value is None:
        return COPY_NULL
    if isinstance(value, str):
        return copy_text(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def in_background(produce, *, name: str, on_exit=None, ahead: int = 2):
    """Run ``produce(emit)`` in a second thread and yield what it emits, in order (at most ``ahead`` items ahead).
    ``emit(item)`` returns False once the consumer stopped (closed the generator, or failed): ``produce``
    should return then. An exception in the thread is raised here. ``on_exit`` runs in the thread as it ends
    (its own database connection to close, for instance)."""
    items: queue.Queue = queue.Queue(maxsize=ahead)
    stop = threading.Event()

    def emit(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            produce(emit)
            emit(_END)
        except BaseException as exc:  # handed over to the consuming thread, which raises it
            emit(exc)
        finally:
            if on_exit is not None:
                on_exit()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
