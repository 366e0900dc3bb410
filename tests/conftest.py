"""Shared by every test folder. Being here, this file also puts tests/ on sys.path, so that the
folders share helpers as ``support.…`` (tests/support/): the skip-locally-fail-in-CI rule, the live
server, the test apps, the fake forum and the API's sample questions."""
