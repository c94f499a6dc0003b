"""The FCM and APNs stand-ins and the hub configuration for them (tests/support/native_services.py)."""

from tests.support.native_services import apns, fcm, native

__all__ = ["apns", "fcm", "native"]
