/** A child process of `benchTrain`: times the row given as JSON in argv[2] and sends it back over IPC. */
import { benchTrainRow, type TrainRowRequest } from './train.js';

const row = await benchTrainRow(JSON.parse(process.argv[2]!) as TrainRowRequest);
process.send!(row);
process.disconnect();
