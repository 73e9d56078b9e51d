"""What every provider simulator shares, so each provider module holds only its contract.

* :mod:`~simulators.common.http`: the threaded localhost server (listen backlog 128, no request
  logging), :class:`Request`, :class:`Reply` and the :class:`HttpSimulator` lifecycle.
* :mod:`~simulators.common.admin`: the ``/_simulator/...`` route dispatcher with the routes every
  simulator has (``mode``, ``reset``, ``received``).
* :mod:`~simulators.common.modes`: the mode switch (``count``, ``latency_ms``, options).
* :mod:`~simulators.common.log`: a bounded log for requests and webhook deliveries.
* :mod:`~simulators.common.webhooks`: background webhook delivery with retries and faults.
* :mod:`~simulators.common.signing`: HMAC-SHA256 hex and HTTP Basic credentials.
* :mod:`~simulators.common.jsonutil`: JSON that keeps ``Decimal`` exact.
* :mod:`~simulators.common.cli`: serving one in the foreground (``python -m simulators.<name>``).
"""
