package feed

import (
	"github.com/ThreeDotsLabs/watermill"
	"github.com/rs/zerolog"
)

// Logger adapts a zerolog logger to watermill's, so the router logs where
// the rest of Roster does. Watermill's Info becomes Debug: its info lines
// (handler added, subscriber started) are routine.
func Logger(log zerolog.Logger) watermill.LoggerAdapter { return zerologAdapter{log: log} }

type zerologAdapter struct{ log zerolog.Logger }

func (a zerologAdapter) Error(msg string, err error, fields watermill.LogFields) {
	a.log.Error().Err(err).Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Info(msg string, fields watermill.LogFields) {
	a.log.Debug().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Debug(msg string, fields watermill.LogFields) {
	a.log.Debug().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) Trace(msg string, fields watermill.LogFields) {
	a.log.Trace().Fields(map[string]any(fields)).Msg(msg)
}

func (a zerologAdapter) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return zerologAdapter{log: a.log.With().Fields(map[string]any(fields)).Logger()}
}
