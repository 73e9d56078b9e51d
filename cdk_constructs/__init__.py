"""Reusable constructs: one capability per module, secure defaults no prop can turn off.

Named `cdk_constructs` because a top-level `constructs` package would shadow the
`constructs` library that aws-cdk-lib imports. Nothing here knows about systems or
environments; stacks pass in every value that differs between them.
"""
