// Package datasets loads small image-classification datasets (MNIST and
// Fashion-MNIST) from IDX files into memory and iterates them in normalised
// mini-batches.
//
// A dataset is held as two [Split] values (train and test) of raw uint8
// pixels in NCHW order. A [Loader] turns a Split into float32 mini-batches
// normalised per channel as (x/255 - mean)/std, optionally shuffled with a
// deterministic per-epoch permutation.
//
// The package uses only the standard library. The IDX reader ([ReadIDXImages],
// [ReadIDXLabels]) accepts both gzip-compressed and raw files and returns
// descriptive errors (naming the file) instead of panicking on malformed
// input.
package datasets
