package train

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Log files of a run directory.
const (
	logCSV   = "log.csv"
	logJSONL = "log.jsonl"
)

// logColumns are log.csv's columns, in order; they are EpochStats's JSON keys.
var logColumns = []string{"epoch", "step", "lr", "train_loss", "train_acc", "eval_loss", "eval_acc", "img_per_sec",
	"seconds", "total_seconds"}

// writeRunLogs rewrites log.csv and log.jsonl in dir from history, each atomically. Rewriting rather than
// appending keeps the logs equal to the newest checkpoint's history whatever was interrupted where. Floats are
// written in the shortest form that reads back exactly.
func writeRunLogs(dir string, history []EpochStats) error {
	var cb bytes.Buffer
	w := csv.NewWriter(&cb)
	_ = w.Write(logColumns)
	for _, h := range history {
		f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		_ = w.Write([]string{strconv.Itoa(h.Epoch), strconv.Itoa(h.Step), f(h.LR), f(h.TrainLoss), f(h.TrainAcc),
			f(h.EvalLoss), f(h.EvalAcc), f(h.ImgPerSec), f(h.Seconds), f(h.TotalSeconds)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, logCSV), err)
	}
	var jb bytes.Buffer
	enc := json.NewEncoder(&jb)
	for _, h := range history {
		if err := enc.Encode(h); err != nil {
			return fmt.Errorf("%s: epoch %d: %w", filepath.Join(dir, logJSONL), h.Epoch, err)
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, logCSV), cb.Bytes()); err != nil {
		return err
	}
	if err := writeMetrics(dir, history); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, logJSONL), jb.Bytes())
}
