package main

// backend names the kernels this binary was built with.
const backend = "pure-go"
