// Package datasets loads small image-classification datasets into memory
// and iterates them in normalised, optionally augmented mini-batches.
//
// A dataset is held as two [Split] values (train and test) of raw uint8
// pixels in NCHW order, with per-channel normalisation constants and class
// names. The formats read are:
//
//   - MNIST and Fashion-MNIST IDX files ([LoadMNIST], [LoadFashionMNIST],
//     [ReadIDXImages], [ReadIDXLabels]), gzip-compressed or raw;
//   - the CIFAR-10 and CIFAR-100 binary batches ([LoadCIFAR10Binary],
//     [LoadCIFAR100], fine or coarse labels);
//   - image folders, root/{train,test}/<class>/<image> in JPEG or PNG
//     ([LoadImageFolder]), of which the JPEG copy of CIFAR-10 is one
//     ([LoadCIFAR10] detects which CIFAR-10 form it is given);
//   - the Tiny ImageNet layout ([LoadTinyImageNet]).
//
// Every format is read from a directory or streamed straight out of a .tar
// or .tar.gz archive without unpacking it, in any of the layouts' official
// forms (including the archives' top folder). Images are decoded in
// parallel with a deterministic result, and can be kept in a checksummed
// decoded cache so that later loads are a single read ([LoadOptions]).
// [Load] and [LoadWithOptions] pick a dataset by name.
//
// A [Loader] turns a Split into float32 mini-batches normalised per
// channel as (x/255 - mean)/std, optionally shuffled with a deterministic
// per-epoch permutation and, for training, augmented with a random crop of
// a zero-padded image and a horizontal flip ([RandomCropFlip]) that depend
// only on (seed, epoch, sample). [Loader.Stream] builds the batches of an
// epoch in background goroutines, a bounded number ahead, with the same
// result whatever the scheduling. [Subset], [SubsetPerClass] and
// [SubsetFraction] cut splits down for quick runs.
//
// The package uses only the standard library. Readers return descriptive
// errors naming the file (and, inside an archive, the member) instead of
// panicking on malformed input.
package datasets
