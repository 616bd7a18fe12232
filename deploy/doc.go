// Package deploy holds what runs minilm in containers and on Kubernetes:
// the Dockerfile, the Kustomize manifests under k8s/, and the tests that
// prove them on a machine without a container runtime: the manifests decode
// strictly into the Kubernetes API types and agree with the server's real
// routes and flags; the Dockerfile's build line yields a static, stamped
// binary; that binary serves from a root holding nothing else; and three
// servers behind nginx restart one by one under load without a failed
// request. ociimage/ builds the image as an OCI tarball without Docker.
package deploy
