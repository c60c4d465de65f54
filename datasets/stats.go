package datasets

import "math"

// Per-channel normalisation constants (R, G, B) of the RGB datasets: the
// mean and standard deviation of x/255 over each training set, as
// published with the datasets and used by the usual PyTorch recipes. A
// Loader normalises pixel x of channel c as (x/255 - Mean[c]) / Std[c].
// The single-channel constants of MNIST and Fashion-MNIST are MNISTMean,
// MNISTStd, FashionMNISTMean and FashionMNISTStd.
//
// The CIFAR-10 constants are also used for the JPEG copy of CIFAR-10,
// whose own training statistics (0.4912 0.4820 0.4464 / 0.2465 0.2438
// 0.2619) differ by less than 0.0006, so that models move between the two
// unchanged. Generic image folders have no published constants: their
// splits use ChannelStats of the training split.
var (
	CIFAR10Mean      = [3]float64{0.4914, 0.4822, 0.4465}
	CIFAR10Std       = [3]float64{0.2470, 0.2435, 0.2616}
	CIFAR100Mean     = [3]float64{0.5071, 0.4865, 0.4409}
	CIFAR100Std      = [3]float64{0.2673, 0.2564, 0.2762}
	TinyImageNetMean = [3]float64{0.4802, 0.4481, 0.3975}
	TinyImageNetStd  = [3]float64{0.2770, 0.2691, 0.2821}
)

// ChannelStats returns the mean and the (population) standard deviation of
// x/255 over all pixels of each channel of s. The sums are exact integers,
// so the result does not depend on the order of the samples. A channel
// whose standard deviation is 0 (constant, or an empty split) gets a
// standard deviation of 1, so that the result is always a valid Split.Std.
// It returns nil slices for a nil or inconsistent split.
func ChannelStats(s *Split) (mean, std []float64) {
	if s == nil || s.C <= 0 || s.H <= 0 || s.W <= 0 || s.N < 0 || len(s.Images) != s.N*s.C*s.H*s.W {
		return nil, nil
	}
	hw := s.H * s.W
	sum := make([]uint64, s.C)
	sumSq := make([]uint64, s.C)
	for i := range s.N {
		img := s.Images[i*s.C*hw : (i+1)*s.C*hw]
		for c := range s.C {
			var a, q uint64
			for _, v := range img[c*hw : (c+1)*hw] {
				a += uint64(v)
				q += uint64(v) * uint64(v)
			}
			sum[c] += a
			sumSq[c] += q
		}
	}
	mean = make([]float64, s.C)
	std = make([]float64, s.C)
	n := float64(s.N) * float64(hw)
	for c := range s.C {
		std[c] = 1
		if n == 0 {
			continue
		}
		m := float64(sum[c]) / n
		v := float64(sumSq[c])/n - m*m
		mean[c] = m / 255
		if v > 0 {
			std[c] = math.Sqrt(v) / 255
		}
	}
	return mean, std
}
