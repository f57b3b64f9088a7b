from tests.servers.fixtures import moto_s3, s3_credentials  # noqa: F401 (fixtures)
